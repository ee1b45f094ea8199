//! Stripe simulator.
