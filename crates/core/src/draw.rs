//! Drawing helpers for result pictures (points, boxes, index labels).
