//! facemark-model
