"""What the tests expect of the course as a whole, written down once."""

from cnn_course.course import ASSIGNMENTS as _ASSIGNMENTS

#: The six assignments, one per chapter, in order.
ASSIGNMENTS = [a.name for a in _ASSIGNMENTS]
