//! Shared test models.
