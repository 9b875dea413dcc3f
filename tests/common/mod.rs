pub mod moto;
pub mod repo;
