// Package catalog is the data a host shares with its plugins.
package catalog

// Catalog is the host's product catalogue.
type Catalog struct {
	Store    string
	Currency string
	Products []Product
}

// Product is one product.
type Product struct {
	SKU   string
	Name  string
	Price int // in cents
	Stock int
	Tags  []string
}

// Plugin is what plugins implement. The catalogue they receive is
// read-only: they must not change it.
type Plugin interface {
	Name() string
	Run(c *Catalog) string
}
