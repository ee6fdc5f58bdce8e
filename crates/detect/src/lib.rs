//! facemark-detect
