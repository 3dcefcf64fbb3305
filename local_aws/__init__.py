"""AWS on this machine without Docker: moto_server plus an executor that runs the deployed
Lambda code and evaluates the alarms. A harness for tests and the demo; product code
(lambda/, deployment/, layers/) never imports it."""
