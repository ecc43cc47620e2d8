/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgPower: the machine's power supply for the servicing battery row,
 * and whether it saves energy (EnergySaver cancels use tasks).
 *
 * UPower's display device (Percentage, IsPresent, WarningLevel) and its
 * OnBattery, read when UPower appears and followed by PropertiesChanged;
 * power-profiles-daemon's ActiveProfile likewise. Where UPower does not
 * run, the sysfs power_supply class is read at request time: system
 * batteries and mains only (a mouse's battery, scope=Device, is not the
 * machine's). A machine with no system battery at all is on mains. The
 * sysfs root is $DEVBG_SYSFS_ROOT when set (tests), else /sys.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-decision.h"

G_BEGIN_DECLS

#define DEVBG_TYPE_POWER (devbg_power_get_type ())
G_DECLARE_FINAL_TYPE (DevbgPower, devbg_power, DEVBG, POWER, GObject)

DevbgPower *devbg_power_new (GDBusConnection *connection,
                             guint            timeout_ms);

/* The supply now, from UPower if it runs, else from sysfs. */
DevbgPowerFacts devbg_power_get_facts (DevbgPower *power);

/* Pure: the sysfs power_supply class under @class_dir. */
DevbgPowerFacts devbg_power_read_sysfs (const char *class_dir);

/* power-saver profile, or UPower's warning level low or worse on battery. */
gboolean devbg_power_get_energy_saver (DevbgPower *power);

/* Signals:
 *   "energy-saver-changed" (gboolean saving)
 */

G_END_DECLS
