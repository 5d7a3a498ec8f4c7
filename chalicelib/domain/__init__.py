"""Pure rules of the product. Imports nothing from AWS, adapters or the HTTP edge."""
