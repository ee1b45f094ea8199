//! [`ConnectionStore`] on the table: the connection item and its account
//! route, written in one transaction. The route carries a copy of the
//! connection, so routing a webhook is one GetItem.

use super::{Condition, DynamoStore, Item, TxOp, keys};
use crate::domain::connection::Connection;
use crate::domain::ids::{StripeAccountId, WorkspaceId};
use crate::ports::connections::ConnectionStore;
use crate::ports::store::StoreError;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Route {
    workspace_id: WorkspaceId,
    connection: Connection,
}

impl ConnectionStore for DynamoStore {
    async fn connection(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Option<(Connection, u64)>, StoreError> {
        match self.get(&keys::connection(workspace)).await? {
            Some(item) => Ok(Some((item.parse()?, item.version))),
            None => Ok(None),
        }
    }

    async fn connection_for_account(
        &self,
        account: &StripeAccountId,
    ) -> Result<Option<Connection>, StoreError> {
        let Some(route) = self.get(&keys::account_route(account)).await? else {
            return Ok(None);
        };
        let route: Route = route.parse()?;
        Ok(Some(route.connection).filter(|c| &c.account_id == account))
    }

    async fn save_connection(
        &self,
        connection: &Connection,
        expected: u64,
    ) -> Result<u64, StoreError> {
        let ws = &connection.workspace_id;
        let item = super::sync::index_connection(
            Item::json(keys::connection(ws), connection)?,
            connection,
        );
        let route = Item::json(
            keys::account_route(&connection.account_id),
            &Route {
                workspace_id: ws.clone(),
                connection: connection.clone(),
            },
        )?;
        let route_condition = match self.get(&route.key).await? {
            None => Condition::Absent,
            Some(r) => {
                let owner: Route = r.parse()?;
                if &owner.workspace_id != ws {
                    // The account is connected to another workspace in this region.
                    return Err(StoreError::Conflict);
                }
                Condition::Version(r.version)
            }
        };
        let mut ops = Vec::with_capacity(3);
        let condition = if expected == 0 {
            Condition::Absent
        } else {
            // A reconnect to another account retires the old account's route.
            if let Some((old, _)) = ConnectionStore::connection(self, ws).await?
                && old.account_id != connection.account_id
            {
                ops.push(TxOp::Delete(
                    keys::account_route(&old.account_id),
                    Condition::None,
                ));
            }
            Condition::Version(expected)
        };
        ops.push(TxOp::Put(item, condition));
        ops.push(TxOp::Put(route, route_condition));
        self.transact(ops).await?;
        Ok(expected + 1)
    }
}
