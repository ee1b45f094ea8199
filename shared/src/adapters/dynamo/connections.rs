//! [`ConnectionStore`] on the table: the connection item and its account
//! route, written in one transaction.

use super::{Condition, DynamoStore, Item, TxOp, keys};
use crate::domain::connection::Connection;
use crate::domain::ids::{StripeAccountId, WorkspaceId};
use crate::ports::connections::ConnectionStore;
use crate::ports::store::StoreError;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Route {
    workspace_id: WorkspaceId,
}

impl ConnectionStore for DynamoStore {
    async fn connection(&self, workspace: &WorkspaceId) -> Result<Option<(Connection, u64)>, StoreError> {
        match self.get(&keys::connection(workspace)).await? {
            Some(item) => Ok(Some((item.parse()?, item.version))),
            None => Ok(None),
        }
    }

    async fn connection_for_account(&self, account: &StripeAccountId) -> Result<Option<Connection>, StoreError> {
        let Some(route) = self.get(&keys::account_route(account)).await? else {
            return Ok(None);
        };
        let route: Route = route.parse()?;
        let found = ConnectionStore::connection(self, &route.workspace_id).await?;
        // A stale route (the workspace reconnected another account) leads nowhere.
        Ok(found.map(|(c, _)| c).filter(|c| &c.account_id == account))
    }

    async fn save_connection(&self, connection: &Connection, expected: u64) -> Result<u64, StoreError> {
        let item = Item::json(keys::connection(&connection.workspace_id), connection)?;
        let route = Item::json(
            keys::account_route(&connection.account_id),
            &Route { workspace_id: connection.workspace_id.clone() },
        )?;
        let existing_route = self.get(&route.key).await?;
        let route_condition = match &existing_route {
            None => Condition::Absent,
            Some(r) => {
                let owner: Route = r.parse()?;
                if owner.workspace_id != connection.workspace_id {
                    return Err(StoreError::Conflict);
                }
                Condition::Version(r.version)
            }
        };
        let condition = if expected == 0 { Condition::Absent } else { Condition::Version(expected) };
        self.transact(vec![TxOp::Put(item, condition), TxOp::Put(route, route_condition)]).await?;
        Ok(expected + 1)
    }
}
