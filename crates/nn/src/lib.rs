//! facemark-nn
