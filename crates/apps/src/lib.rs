//! facemark-apps
