//! jit's own commits: moving ended requests to archive/, then pushing.
