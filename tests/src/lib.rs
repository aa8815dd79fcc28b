//! Test harness for Switchyard.
