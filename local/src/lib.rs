//! Local runner library: the embedded default (dynoxide in-process + local key
//! files in an owner-only data dir) and the server that mounts every route on
//! the same handlers the Lambdas run, and the dashboard page it serves at `/`.

pub mod demo;
pub mod embedded;
pub mod files;
pub mod page;
pub mod runner;
pub mod server;
pub mod token;
