"""Package shim so the embedded dataset file installs with course_lib (import name: course_data)."""
