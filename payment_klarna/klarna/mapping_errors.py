"""The one error the mapping raises, so callers can show every problem at once."""


class KlarnaMappingError(ValueError):
    """Odoo data that cannot become a valid Klarna payload, found before any call to Klarna.

    ``problems`` holds every issue found, each worded for a shop administrator and free of
    personal data, so one round of fixes is enough and the message is safe to log or show.
    """

    def __init__(self, problems):
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("; ".join(self.problems))
