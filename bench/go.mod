module github.com/frozen-go/frozen/bench

go 1.26

replace github.com/frozen-go/frozen => ../
