/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The runtime policies of DESIGN section 3 as pure functions of a snapshot
 * of facts: no I/O, no clock, so each row is tested alone with plain data.
 * The instance supervisor gathers the facts and acts on the verdict.
 */
#pragma once

#include <glib.h>

#include "devbg-config.h"
#include "devbg-enums.h"

G_BEGIN_DECLS

typedef struct {
  gboolean          cancel;
  DevbgCancelReason reason;
  char             *detail; /* why, for the app and the history */
} DevbgVerdict;

void devbg_verdict_clear (DevbgVerdict *verdict);

/* Seconds a task of @trigger may run. */
double   devbg_policy_wall_clock_limit (const DevbgConfig *config,
                                        DevbgTriggerType   trigger);

/* Use tasks need their device attached and regular I/O to it; servicing
 * tasks may see their device reboot and disconnect. */
gboolean devbg_policy_requires_attached (DevbgTriggerType trigger);
gboolean devbg_policy_requires_io (DevbgTriggerType trigger);

/* The wall clock: @elapsed_s since the task started. */
DevbgVerdict devbg_policy_check_wall_clock (const DevbgConfig *config,
                                            DevbgTriggerType   trigger,
                                            double             elapsed_s);

/* One I/O window ended: the device's activity counter at its start and
 * end. */
DevbgVerdict devbg_policy_check_io (const DevbgConfig *config,
                                    DevbgTriggerType   trigger,
                                    guint64            counter_before,
                                    guint64            counter_after);

/* The CPU liveness floor: CpuFloorMs at CpuReferenceMHz, scaled to a CPU
 * of @cpu_mhz (a faster CPU does the same work in less time), per window.
 * Returns the floor in microseconds for one window. */
guint64  devbg_policy_cpu_floor_us (const DevbgConfig *config,
                                    double             cpu_mhz);

/* The window length: shorter while the screen is locked. */
double   devbg_policy_cpu_window (const DevbgConfig *config,
                                  gboolean           screen_locked);

/* One CPU window ended with @cpu_used_us of CPU used by the task's whole
 * tree. */
DevbgVerdict devbg_policy_check_cpu (const DevbgConfig *config,
                                     guint64            cpu_used_us,
                                     double             cpu_mhz);

/* The device left: cancels a use task, not a servicing one. */
DevbgVerdict devbg_policy_check_removal (DevbgTriggerType trigger,
                                         const char      *device_id);

G_END_DECLS
