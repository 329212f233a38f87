//! Message model shared by all fronts.
