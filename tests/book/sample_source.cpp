// A source file for the runner's own tests.
int before() { return 0; }

// [book:answer]
int answer() {
  return 42;
}
// [/book:answer]
