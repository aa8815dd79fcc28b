//! The web view (issue 13) through the real `controlplane` binary in
//! single-machine mode: sign-in, sessions and cross-site protection over
//! plain HTTP (`access`), and the pages in a real Chromium driven through
//! WebDriver (`browser`).

mod access;
mod browser;
