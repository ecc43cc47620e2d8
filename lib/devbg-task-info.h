/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

/**
 * DevbgTaskInfo:
 *
 * A task instance as a tool sees it: running (devbg_client_list_tasks_async(),
 * devbg_client_watch_tasks_async(), #DevbgClient::task-changed) or finished
 * (devbg_client_get_history_async(), #DevbgClient::task-ended). Which
 * instances a caller sees: an app, its user's instances of itself; another
 * program, its user's; root, all. Immutable, and readable from any thread.
 *
 * An entry of the history holds the whole page it came in (up to
 * %DEVBG_PACKED_PAGE_MAX_BYTES by default) and its strings point into it:
 * the page is freed with the last of its entries. To keep a few entries of
 * many pages for long, keep copies of their strings rather than the
 * objects.
 *
 * Since: 0.1
 */
/**
 * DEVBG_TYPE_TASK_INFO:
 *
 * The #GType of #DevbgTaskInfo.
 *
 * Since: 0.1
 */
#define DEVBG_TYPE_TASK_INFO (devbg_task_info_get_type ())
G_DECLARE_FINAL_TYPE (DevbgTaskInfo, devbg_task_info, DEVBG, TASK_INFO, GObject)

const char      *devbg_task_info_get_instance_id (DevbgTaskInfo *info);
const char      *devbg_task_info_get_task_id (DevbgTaskInfo *info);
const char      *devbg_task_info_get_app_id (DevbgTaskInfo *info);
const char      *devbg_task_info_get_name (DevbgTaskInfo *info);
const char      *devbg_task_info_get_entry_point (DevbgTaskInfo *info);
DevbgTriggerType devbg_task_info_get_trigger_type (DevbgTaskInfo *info);
const char      *devbg_task_info_get_device_id (DevbgTaskInfo *info);
guint32          devbg_task_info_get_uid (DevbgTaskInfo *info);
const char      *devbg_task_info_get_state (DevbgTaskInfo *info);
guint            devbg_task_info_get_progress (DevbgTaskInfo *info);
gint64           devbg_task_info_get_started_us (DevbgTaskInfo *info);
guint            devbg_task_info_get_limit_s (DevbgTaskInfo *info);
gboolean         devbg_task_info_get_finished (DevbgTaskInfo *info);
gint64           devbg_task_info_get_finished_us (DevbgTaskInfo *info);
gboolean         devbg_task_info_get_success (DevbgTaskInfo *info);
const char      *devbg_task_info_get_error_message (DevbgTaskInfo *info);
const char      *devbg_task_info_get_cancel_reason (DevbgTaskInfo *info);
GVariant        *devbg_task_info_get_properties (DevbgTaskInfo *info);

G_END_DECLS
