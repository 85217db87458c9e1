from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("searchapp", "0008_dataset_status"),
    ]

    operations = [
        migrations.AddField(
            model_name="candidate",
            name="export",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
