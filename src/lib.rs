//! jit: just-in-time cloud access through git.

pub mod cli;
pub mod config;
pub mod diag;
pub mod worktree;
