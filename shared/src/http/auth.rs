//! The caller's workspace identity, from the API Gateway JWT authorizer claims.
//! In AWS, API Gateway has verified the token; locally, `kustiq-local` verifies
//! its own tokens and fills the same request context.

use crate::domain::ids::WorkspaceId;
use crate::domain::region::Region;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};

/// A workspace's plan. The Stripe integration needs Pro.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// Free tier.
    Free,
    /// Insight ($39/mo).
    Insight,
    /// Pro ($119/mo): the churn engine and the Stripe integration.
    Pro,
}

impl Plan {
    /// Parses `free` / `insight` / `pro`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "free" => Some(Self::Free),
            "insight" => Some(Self::Insight),
            "pro" => Some(Self::Pro),
            _ => None,
        }
    }
}

/// Who is calling: from the claims `workspace_id`, `plan`, `region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Its plan.
    pub plan: Plan,
    /// Its data region.
    pub region: Region,
}

/// Why a request's identity was refused. Mapped to a status in `http/error.rs`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No authorizer claims: no or an invalid bearer token.
    #[error("a workspace bearer token is required")]
    Missing,
    /// A claim is present but malformed.
    #[error("claim {0}")]
    BadClaim(String),
    /// The workspace lives in another region than this deployment serves.
    #[error("this workspace lives in {workspace}, this endpoint serves {served}")]
    WrongRegion {
        /// The workspace's region.
        workspace: Region,
        /// This deployment's region.
        served: Region,
    },
    /// The route belongs to the churn engine or the Stripe integration, which are Pro-only.
    #[error("the churn engine and the Stripe integration require the Pro plan")]
    PlanRequired,
}

/// What a route asks of its caller's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Any plan (the integration status, which tells a non-Pro workspace why it is locked).
    AnyPlan,
    /// Pro only: every churn-engine and integration route.
    Pro,
}

impl Identity {
    /// Reads the identity from the request's authorizer claims.
    /// No claims → [`AuthError::Missing`]; claims present but malformed → [`AuthError::BadClaim`].
    pub fn from_request(req: &Request) -> Result<Self, AuthError> {
        let claims = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|j| &j.claims),
            _ => None,
        };
        let Some(claims) = claims.filter(|c| c.contains_key("workspace_id")) else {
            return Err(AuthError::Missing);
        };
        let workspace_id = claims
            .get("workspace_id")
            .map(|w| WorkspaceId::parse(w.as_str()))
            .transpose()
            .map_err(|e| AuthError::BadClaim(format!("workspace_id: {e}")))?
            .ok_or(AuthError::Missing)?;
        let plan = match claims.get("plan") {
            None => Plan::Free,
            Some(p) => Plan::parse(p)
                .ok_or_else(|| AuthError::BadClaim("plan: expected free, insight or pro".into()))?,
        };
        let region = match claims.get("region") {
            None => Region::Eu,
            Some(r) => Region::parse(r).map_err(|e| AuthError::BadClaim(format!("region: {e}")))?,
        };
        Ok(Self {
            workspace_id,
            plan,
            region,
        })
    }

    /// The caller of a route served in `served` behind `gate`: the one check every
    /// workspace route runs first (region before plan, so another region's
    /// workspace learns nothing about this one's rules).
    pub fn authorize(req: &Request, served: Region, gate: Gate) -> Result<Self, AuthError> {
        let who = Self::from_request(req)?;
        if who.region != served {
            return Err(AuthError::WrongRegion {
                workspace: who.region,
                served,
            });
        }
        if gate == Gate::Pro && who.plan != Plan::Pro {
            return Err(AuthError::PlanRequired);
        }
        Ok(who)
    }
}
