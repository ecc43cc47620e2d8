/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgInstance: one running task instance, from spawn to its end. It runs
 * the task process (devbg-spawn.h), speaks the control channel
 * (devbg-channel.h), enforces the runtime policies (devbg-policy.h) with
 * timers that exist only while it runs, cancels with a grace period, kills
 * the whole tree, and ends exactly once with an outcome.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-config.h"
#include "devbg-devices.h"
#include "devbg-flatpak.h"
#include "devbg-store.h"

G_BEGIN_DECLS

typedef enum {
  DEVBG_INSTANCE_STARTING,  /* waiting for its device to open */
  DEVBG_INSTANCE_RUNNING,
  DEVBG_INSTANCE_CANCELING, /* canceled; in its grace period */
  DEVBG_INSTANCE_FINISHED,
} DevbgInstanceState;

const char *devbg_instance_state_to_string (DevbgInstanceState state);

typedef struct {
  const DevbgConfig *config;
  DevbgDevices      *devices;
  const char        *executable;   /* the manifest's host for the entry point */
  const char        *arguments;
  guint64            expected_duration_ms;
  gid_t              gid;
  const char        *user_name;    /* for its groups; NULL: no passwd entry */
  const char        *owner;        /* the unique bus name that requested it */
  const char        *cgroup_parent; /* NULL: default; "": none */
  double             cpu_mhz;      /* this CPU's clock, for the liveness floor */
  int                log_fd;       /* the task's stdout/stderr, or -1 */
  /* A Flatpak app's task: run in a new instance of this deployment's
   * sandbox, @executable being a path inside it. NULL: a host task. */
  const DevbgFlatpakOrigin *flatpak;
  /* The Flatpak installations (outliving the instance), asked whether
   * that deployment is still installed when its task ends by itself. */
  DevbgFlatpak             *flatpaks;
} DevbgInstanceSpec;

#define DEVBG_TYPE_INSTANCE (devbg_instance_get_type ())
G_DECLARE_FINAL_TYPE (DevbgInstance, devbg_instance, DEVBG, INSTANCE, GObject)

/* @record: the instance's identity (instance ID, task, app, trigger,
 * device, uid); copied. Signals:
 *   "progress" (guint)   the latest progress, at most once per main-loop
 *                        iteration however fast the task reports
 *   "finished" ()        the instance ended; devbg_instance_get_record()
 *                        holds its outcome. Emitted exactly once.
 *   "state-changed" ()   it started running, or began canceling */
DevbgInstance *devbg_instance_new (const DevbgInstanceRecord *record,
                                   const DevbgInstanceSpec   *spec);

/* Makes everything ready for the task's process but the device (the
 * control channel with the trigger sent, its user, its cgroup, its output
 * pipes), while the device opens. Fails when the process could not be
 * started anyway; an instance dropped while prepared undoes it. */
gboolean devbg_instance_prepare (DevbgInstance *instance,
                                 GError       **error);

/* Starts the prepared task process with @device_fd (taken: closed here
 * whatever happens). Fails when the process cannot be started. */
gboolean devbg_instance_start (DevbgInstance *instance,
                               int            device_fd,
                               GError       **error);

/* Cancels: tells the task (reason, detail), and kills the tree when the
 * grace period passes. A second cancel keeps the first reason. */
void     devbg_instance_cancel (DevbgInstance    *instance,
                                DevbgCancelReason reason,
                                const char       *detail);

/* Ends the instance now (the service stops): kills the tree and finishes
 * with @reason, without a grace period. */
void     devbg_instance_terminate (DevbgInstance    *instance,
                                   DevbgCancelReason reason,
                                   const char       *detail);

/* The owner's session locked or unlocked: the CPU liveness window is a
 * minute while locked, five while not (CpuWindowLocked/Unlocked). A
 * running task moves to the other window at once, starting it afresh. */
void     devbg_instance_set_screen_locked (DevbgInstance *instance,
                                           gboolean       locked);

const DevbgInstanceRecord *devbg_instance_get_record (DevbgInstance *instance);
DevbgInstanceState devbg_instance_get_state (DevbgInstance *instance);
guint32      devbg_instance_get_progress (DevbgInstance *instance);
const char  *devbg_instance_get_owner (DevbgInstance *instance);
gboolean     devbg_instance_get_detached (DevbgInstance *instance);
void         devbg_instance_set_detached (DevbgInstance *instance);
const char  *devbg_instance_get_cancel_reason (DevbgInstance *instance); /* "" if none */

/* The keys of a ListTasks entry: @record's own (instance-id, task-id,
 * app-id, name, entry-point, trigger, device-id, uid, started-us), which
 * History's entries have too; and with those, an instance's state,
 * progress, pid, detached and cancel-reason. */
void         devbg_instance_record_add_entries (const DevbgInstanceRecord *record,
                                                GVariantBuilder           *builder);
void         devbg_instance_add_entries (DevbgInstance   *instance,
                                         GVariantBuilder *builder);
/* The instance as WatchTasks and the TaskChanged/TaskEnded signals give it
 * (a floating a{sv}): its ListTasks entry and limit-s; a finished one with
 * its outcome. */
GVariant    *devbg_instance_to_variant (DevbgInstance *instance);

/* /proc/PID/stat's start time (field 22), 0 when unreadable. */
guint64      devbg_process_start_time (pid_t pid);

/* The deployment a Flatpak app's task runs from; NULL for a host task. */
const DevbgFlatpakOrigin *devbg_instance_get_flatpak (DevbgInstance *instance);

G_END_DECLS
