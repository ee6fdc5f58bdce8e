//! facemark-train
