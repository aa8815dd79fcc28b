//! Config import (helper "schedule-config" is writing this).
