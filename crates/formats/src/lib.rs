//! facemark-formats
