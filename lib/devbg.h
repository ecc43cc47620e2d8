/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The one header an app includes: #include <devbg.h>, pkg-config devbg-1.
 */
#pragma once

#define DEVBG_INSIDE
#include "devbg-names.h"
#include "devbg-enums.h"
#include "devbg-error.h"
#include "devbg-enum-types.h"
#include "devbg-device-info.h"
#include "devbg-task-info.h"
#include "devbg-client.h"
#include "devbg-permission.h"
#include "devbg-consent-agent.h"
#include "devbg-task.h"
#undef DEVBG_INSIDE
