pub mod faults;
pub mod github;
pub mod moto;
pub mod repo;
