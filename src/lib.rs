//! jit: just-in-time cloud access through git.

pub mod apply;
pub mod approval;
pub mod audit;
pub mod cli;
pub mod config;
pub mod diag;
pub mod fmt;
pub mod git;
pub mod iam;
pub mod lifecycle;
pub mod notify;
pub mod plan;
pub mod policy;
pub mod pr;
pub mod reconcile;
pub mod render;
pub mod runtime;
pub mod status;
pub mod worktree;
