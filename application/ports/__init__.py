"""The roles the use cases need filled, as ``typing.Protocol``; adapters fill them."""
