DROP TABLE {{plural}};
