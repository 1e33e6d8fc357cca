"""In-memory fakes of every port, for the offline harness (``aimpay demo``) and the unit tests.
They keep state you can assert on; none of them is used when real credentials are configured."""
