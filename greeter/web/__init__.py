"""The web page of the greeter (--web): live picture, people, visitors, history, API."""
