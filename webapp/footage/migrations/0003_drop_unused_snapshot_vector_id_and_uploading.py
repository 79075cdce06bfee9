# Snapshot.vector_id was never written (vectors are found through the engine's catalog); VideoStatus.UPLOADING
# was only the default, and every video is created processing. A row still "uploading" could not move on.

from django.db import migrations, models


def _no_uploading(apps, schema_editor):
    apps.get_model("footage", "Video").objects.filter(status="uploading").update(
        status="failed", error="The upload did not finish."
    )


class Migration(migrations.Migration):

    dependencies = [
        ('footage', '0002_video_recording_start_source'),
    ]

    operations = [
        migrations.RunPython(_no_uploading, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name='snapshot',
            name='vector_id',
        ),
        migrations.AlterField(
            model_name='video',
            name='status',
            field=models.CharField(choices=[('processing', 'Checking and converting'), ('ingesting', 'Finding people'), ('ready', 'Ready'), ('failed', 'Failed')], default='processing', max_length=12),
        ),
    ]
