package cli

// BuildHello lets the end-to-end tests build hello variants as the demo does.
var BuildHello = buildHello
