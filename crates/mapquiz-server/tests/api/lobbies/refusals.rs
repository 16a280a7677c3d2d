//! Every refusal of the §3.2 authorisation table and the required-field errors, with their exact French
//! strings, and the benign repeats of §2.9 that must never be an `error`.
