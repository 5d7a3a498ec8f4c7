"""The local stack (moto or a given endpoint, the API, a stream pump); not shipped."""
