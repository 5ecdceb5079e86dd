// SPDX-License-Identifier: MIT
/* The test kit under its first name: see test/kit.h. */
#include "kit.h"
