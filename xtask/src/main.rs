//! Project tasks: `cargo xtask reproduce-figures`, `cargo xtask bench`.
fn main() {
    println!("xtask: nothing yet");
}
