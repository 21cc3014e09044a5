package reach

// SizedState lets the benchmarks of package reach_test generate the states
// of this package's benchmarks.
var SizedState = sizedState
