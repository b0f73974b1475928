module example.com/hybrid-e2e-example

go 1.25
