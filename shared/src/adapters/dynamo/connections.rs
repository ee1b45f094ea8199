//! [`ConnectionStore`], [`GrantStore`] and [`StateLedger`] on the table: the
//! connection item and its account route, written in one transaction (the
//! route carries a copy of the connection, so routing a webhook is one
//! GetItem); the grant beside the connection, with its connection-id route;
//! used OAuth state nonces with a TTL.

use super::{Condition, DynamoStore, Item, TxOp, keys};
use crate::domain::connection::{Connection, ConnectionStatus};
use crate::domain::ids::{ConnectionId, StripeAccountId, WorkspaceId};
use crate::domain::time::Timestamp;
use crate::ports::connections::{
    ConnectionStore, Grant, GrantStore, RouteGuard, Routed, StateLedger,
};
use crate::ports::store::StoreError;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Route {
    workspace_id: WorkspaceId,
    connection: Connection,
}

/// The workspace an account route points to.
pub(super) fn route_owner(item: &Item) -> Result<WorkspaceId, StoreError> {
    Ok(item.parse::<Route>()?.workspace_id)
}

#[derive(Serialize, Deserialize)]
struct IdRoute {
    workspace_id: WorkspaceId,
}

impl DynamoStore {
    /// The writes of `save_connection`: the connection under `expected`, its
    /// account route (refused when another workspace holds the account), and the
    /// retirement of an old account's route on a reconnect to another account.
    async fn connection_ops(
        &self,
        connection: &Connection,
        expected: u64,
    ) -> Result<Vec<TxOp>, StoreError> {
        let ws = &connection.workspace_id;
        self.routes.forget(&connection.account_id);
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
        Ok(ops)
    }

    fn grant_item(grant: &Grant) -> Result<Item, StoreError> {
        Ok(Item::json(keys::grant(&grant.workspace_id), grant)?
            .with_gsi1(keys::GRANTS, grant.workspace_id.as_str()))
    }

    async fn read_grant(&self, key: &super::Key) -> Result<Option<(Grant, u64)>, StoreError> {
        match self.get(key).await? {
            Some(item) => Ok(Some((item.parse()?, item.version))),
            None => Ok(None),
        }
    }
}

fn condition(expected: u64) -> Condition {
    if expected == 0 {
        Condition::Absent
    } else {
        Condition::Version(expected)
    }
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
        Ok(self
            .route_for_account(account, true)
            .await?
            .map(|r| r.connection))
    }

    async fn route_for_account(
        &self,
        account: &StripeAccountId,
        fresh: bool,
    ) -> Result<Option<Routed>, StoreError> {
        if !fresh && let Some(cached) = self.routes.get(account) {
            return Ok(Some(cached));
        }
        self.routes.forget(account);
        let Some(item) = self.get(&keys::account_route(account)).await? else {
            return Ok(None);
        };
        let route: Route = item.parse()?;
        if &route.connection.account_id != account {
            return Ok(None);
        }
        let routed = Routed {
            connection: route.connection,
            guard: RouteGuard {
                account: account.clone(),
                stamp: item.data,
            },
            cached: false,
        };
        if routed.connection.status == ConnectionStatus::Connected {
            self.routes.put(&routed);
        }
        Ok(Some(routed))
    }

    async fn save_connection(
        &self,
        connection: &Connection,
        expected: u64,
    ) -> Result<u64, StoreError> {
        let ops = self.connection_ops(connection, expected).await?;
        self.transact(ops).await?;
        Ok(expected + 1)
    }
}

impl GrantStore for DynamoStore {
    async fn connect(
        &self,
        connection: &Connection,
        expected: u64,
        grant: &Grant,
        grant_expected: u64,
    ) -> Result<u64, StoreError> {
        let mut ops = self.connection_ops(connection, expected).await?;
        // A renewed grant with a new connection id retires the old id's route.
        if let Some((old, _)) = self.read_grant(&keys::grant(&grant.workspace_id)).await?
            && old.connection_id != grant.connection_id
        {
            ops.push(TxOp::Delete(
                keys::connection_id_route(&old.connection_id),
                Condition::None,
            ));
        }
        ops.push(TxOp::Put(
            Self::grant_item(grant)?,
            condition(grant_expected),
        ));
        // A new grant of the account cancels a deauthorization still owed for it.
        ops.push(TxOp::Delete(
            keys::owed_deauthorization(&grant.account_id),
            Condition::None,
        ));
        ops.push(TxOp::Put(
            Item::json(
                keys::connection_id_route(&grant.connection_id),
                &IdRoute {
                    workspace_id: grant.workspace_id.clone(),
                },
            )?,
            Condition::None,
        ));
        self.transact(ops).await?;
        Ok(expected + 1)
    }

    async fn grant(&self, workspace: &WorkspaceId) -> Result<Option<(Grant, u64)>, StoreError> {
        self.read_grant(&keys::grant(workspace)).await
    }

    async fn grant_by_id(&self, id: &ConnectionId) -> Result<Option<(Grant, u64)>, StoreError> {
        let Some(route) = self.get(&keys::connection_id_route(id)).await? else {
            return Ok(None);
        };
        let route: IdRoute = route.parse()?;
        Ok(GrantStore::grant(self, &route.workspace_id)
            .await?
            .filter(|(g, _)| &g.connection_id == id))
    }

    async fn save_grant(&self, grant: &Grant, expected: u64) -> Result<u64, StoreError> {
        self.put(&Self::grant_item(grant)?, condition(expected))
            .await
    }

    async fn delete_grant(&self, workspace: &WorkspaceId) -> Result<(), StoreError> {
        let Some((grant, _)) = GrantStore::grant(self, workspace).await? else {
            return Ok(());
        };
        self.transact(vec![
            TxOp::Delete(keys::grant(workspace), Condition::None),
            TxOp::Delete(
                keys::connection_id_route(&grant.connection_id),
                Condition::None,
            ),
        ])
        .await
    }

    async fn disconnect(&self, connection: &Connection, expected: u64) -> Result<(), StoreError> {
        let ws = &connection.workspace_id;
        self.routes.forget(&connection.account_id);
        let mut ops = vec![
            TxOp::Put(
                Item::json(keys::connection(ws), connection)?,
                Condition::Version(expected),
            ),
            TxOp::Delete(keys::grant(ws), Condition::None),
        ];
        // Only this workspace's route: another workspace may hold the account now.
        if let Some(route) = self
            .get(&keys::account_route(&connection.account_id))
            .await?
            && &route.parse::<Route>()?.workspace_id == ws
        {
            ops.push(TxOp::Delete(
                keys::account_route(&connection.account_id),
                Condition::Version(route.version),
            ));
        }
        if let Some((grant, _)) = GrantStore::grant(self, ws).await? {
            ops.push(TxOp::Delete(
                keys::connection_id_route(&grant.connection_id),
                Condition::None,
            ));
        }
        self.transact(ops).await
    }

    async fn queue_deauthorization(&self, account: &StripeAccountId) -> Result<(), StoreError> {
        self.put(&Self::owed_item(account)?, Condition::None)
            .await
            .map(|_| ())
    }

    async fn owed_deauthorizations(&self) -> Result<Vec<StripeAccountId>, StoreError> {
        let q = super::Query::partition(super::Index::Gsi1, keys::DEAUTHS);
        self.query_all(&q).await?.iter().map(Item::parse).collect()
    }

    async fn deauthorization_done(&self, account: &StripeAccountId) -> Result<(), StoreError> {
        self.delete(&keys::owed_deauthorization(account), Condition::None)
            .await
    }

    async fn granted_workspaces(&self) -> Result<Vec<WorkspaceId>, StoreError> {
        let q = super::Query::partition(super::Index::Gsi1, keys::GRANTS);
        let items = self.query_all(&q).await?;
        items
            .iter()
            .map(|i| i.parse::<Grant>().map(|g| g.workspace_id))
            .collect()
    }
}

impl DynamoStore {
    /// Owed-deauthorization items carry the account.
    fn owed_item(account: &StripeAccountId) -> Result<Item, StoreError> {
        Ok(Item::json(keys::owed_deauthorization(account), account)?
            .with_gsi1(keys::DEAUTHS, account.as_str()))
    }
}

impl StateLedger for DynamoStore {
    async fn consume(&self, nonce: &str, expires_at: Timestamp) -> Result<bool, StoreError> {
        let item = Item::json(keys::oauth_state(nonce), &expires_at)?.with_ttl(expires_at.unix());
        match self.put(&item, Condition::Absent).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
