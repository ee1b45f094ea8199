//! Local runner library: the embedded default (dynoxide + local key file) and
//! the server that mounts every route on the same handlers the Lambdas run.

pub mod embedded;
pub mod runner;
pub mod server;
pub mod token;
