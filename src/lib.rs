//! jit: just-in-time cloud access through git.

pub mod cli;
pub mod config;
pub mod diag;
pub mod worktree;
pub mod approval;
pub mod git;
pub mod policy;
pub mod iam;
