from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("searchapp", "0007_deploy_parallel"),
    ]

    operations = [
        migrations.AddField(
            model_name="dataset",
            name="status",
            field=models.CharField(
                choices=[("packing", "Packing"), ("ready", "Ready"), ("failed", "Failed")],
                db_index=True,
                default="ready",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="dataset",
            name="error",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="dataset",
            name="rq_job_id",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="dataset",
            name="packing",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
