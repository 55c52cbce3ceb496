fn main() {
    talk_inbox::run()
}
