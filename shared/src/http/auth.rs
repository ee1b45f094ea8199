//! The caller's workspace identity, from the API Gateway JWT authorizer claims.
//! In AWS, API Gateway has verified the token; locally, `kustiq-local` verifies
//! its own tokens and fills the same request context.

use crate::domain::error_code::ErrorCode;
use crate::domain::ids::WorkspaceId;
use crate::domain::region::Region;
use crate::http::error::ApiError;
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

impl Identity {
    /// Reads the identity from the request's authorizer claims.
    /// No claims → 401; claims present but malformed → 400.
    pub fn from_request(req: &Request) -> Result<Self, ApiError> {
        let claims = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|j| &j.claims),
            _ => None,
        };
        let Some(claims) = claims.filter(|c| c.contains_key("workspace_id")) else {
            return Err(ApiError::unauthenticated(
                "a workspace bearer token is required",
            ));
        };
        let workspace_id = claims
            .get("workspace_id")
            .map(|w| WorkspaceId::parse(w.as_str()))
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("claim workspace_id: {e}")))?
            .ok_or_else(|| ApiError::unauthenticated("claim workspace_id missing"))?;
        let plan = match claims.get("plan") {
            None => Plan::Free,
            Some(p) => Plan::parse(p).ok_or_else(|| {
                ApiError::bad_request("claim plan: expected free, insight or pro")
            })?,
        };
        let region = match claims.get("region") {
            None => Region::Eu,
            Some(r) => {
                Region::parse(r).map_err(|e| ApiError::bad_request(format!("claim region: {e}")))?
            }
        };
        Ok(Self {
            workspace_id,
            plan,
            region,
        })
    }

    /// The Stripe integration is Pro-only.
    pub fn require_pro(&self) -> Result<(), ApiError> {
        if self.plan == Plan::Pro {
            Ok(())
        } else {
            Err(ApiError::new(
                403,
                ErrorCode::ERR_PLAN_REQUIRED,
                "the Stripe integration requires the Pro plan",
            ))
        }
    }

    /// A workspace is served only by its own region's deployment.
    pub fn require_region(&self, served: Region) -> Result<(), ApiError> {
        if self.region == served {
            Ok(())
        } else {
            Err(ApiError::new(
                421,
                ErrorCode::ERR_REGION_MISMATCH,
                format!(
                    "this workspace lives in {}, this endpoint serves {}",
                    self.region, served
                ),
            ))
        }
    }
}
